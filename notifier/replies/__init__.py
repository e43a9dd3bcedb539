"""Answering the SMS recipients send us: opt-out and opt-in words, help, a digit for a
numbered option, and any other question about their parcel."""
