"""Operating a deployment: `stepqueue cost`, `stepqueue drift`, `stepqueue redrive`."""
