"""Court-ready exports of a reviewed case: HTML, PDF, CSV and Project VIC (VICS 2.0) JSON."""
