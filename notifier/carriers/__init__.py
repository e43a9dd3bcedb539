"""Source formats: each module turns one format's payload into normalised Events."""
