"""The application's pages: Cases, Gallery, Scan, Review, Reports."""
