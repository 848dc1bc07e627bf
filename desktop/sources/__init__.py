"""Evidence as received, read-only: the one opener every reader of seized files goes through."""
