"""Reading seized media (images, later video frames) read-only, never trusting its bytes."""
