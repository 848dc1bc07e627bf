"""A lab's GPU servers analysing one case through Ray (`homeward scan --ray ADDRESS`).

Imported only when a command asks for a cluster: Ray is an optional extra (`.[cluster]`), and
the desktop installers do not carry it. The examiner's process stays the case's only writer;
the cluster reads, decodes, detects and embeds, and sends results back.
"""
