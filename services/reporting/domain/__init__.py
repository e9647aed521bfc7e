"""The reporting service's pure domain: reports and accounts, repayment, overdue notices, pool
overviews, the auditors' replay and the 360Giving exports (R18, R20–R24). No I/O, no clock."""
