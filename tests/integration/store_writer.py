"""A writer process for the store's contract tests.

Appends BATCHES batches of BATCH_SIZE events to its own stream, with the exact expected
version, and prints ``ACK <batch> <last position>`` only after each append returned, so a
test that kills it knows which appends were acknowledged.
"""

import sys

from eventstore import NewEvent, open_store


def main(url: str, stream: str, batches: int, batch_size: int) -> None:
    with open_store(url) as store:
        version = store.stream_version(stream)
        batch = version // batch_size
        while batches < 0 or batch < batches:
            events = [
                NewEvent("Tick", {"writer": stream, "batch": batch, "i": i, "n": batch_size})
                for i in range(batch_size)
            ]
            position = store.append(stream, events, version)
            version += batch_size
            print(f"ACK {batch} {position}", flush=True)
            batch += 1


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
