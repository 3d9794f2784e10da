"""arrears: overdue-loan handling for inclusive finance (普惠金融逾期法务协商还款)."""

__version__ = "0.1.0"
