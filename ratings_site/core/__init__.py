"""What every app of the platform shares: the service error (`errors`), the staff groups and
permission checks (`permissions`), and selectors several apps read (`selectors`)."""
