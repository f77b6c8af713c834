"""Ledgerlab application: services, training runners, GUI, CLI and the composition root."""
