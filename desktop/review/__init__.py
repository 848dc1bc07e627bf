"""Human review: the queue of hits, reviewers' decisions, the audit trail's verification."""
