"""Known-file hash sets (Project VIC / CAID VICS JSON, NSRL RDSv3, plain lists): the first
triage every examiner runs, kept in one SQLite store in the user's data folder."""
