"""The quality wing, Qt-free: how good the labels and the model are, and what to label
next. ``review`` (suggestions to label, flags of likely wrong labels and a person's
decision on them, annotators who disagree) and ``accuracy`` (prospective accuracy: each
label compared with the prediction in force when it was given)."""
