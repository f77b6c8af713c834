"""Pure domain of Ledgerlab: events, rules, projections, dataset, learning."""
