"""People of a case: clustering every face into persons and searching by face.

Pure functions over numpy arrays and typed records: the scan and the CLI own the case database
and hand faces in as (ids, unit vectors, quality); nothing here reads or writes a case.
"""
