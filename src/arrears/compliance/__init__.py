"""Compliance: collection-conduct profiles and the contact guard every outbound contact passes through.

``guard.check`` decides one request, ``bulk.check_many`` a table of them (set-based, same answers),
``report.compliance_report`` counts what was blocked, ``policy.load_profiles`` loads the YAML rules.
"""
