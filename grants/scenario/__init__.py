"""Pool-round scenarios (format v1, ``shared/SCENARIOS.md``): model, runner, result."""
