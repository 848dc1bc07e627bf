"""The missing-persons gallery: persons, reference photos, imports, reindexing."""
