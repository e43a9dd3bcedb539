"""Recipients rate the delivery: one-tap rating links, their answers, and what the
dashboard shows of them."""
