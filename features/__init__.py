"""Point-in-time lead features: demographic fit and behavioural engagement, tagged by factor."""
