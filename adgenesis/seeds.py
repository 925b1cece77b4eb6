"""Seeds: the one bound every seeded request is checked against, and the seed of a request that names none.

MAX_SEED is the API's promise (the OpenAPI schema's `maximum` of every `seed` field, 4294967295). What consumes a
seed takes more: torch's `Generator.manual_seed` (the image model, and vLLM's per-request sampler,
`generator.manual_seed(sampling_params.seed)`) takes up to 2**64 - 1. The image engine checked 2**63 on its own; it
checks this bound now, so a seed the API refuses is refused the same way by a direct engine call (a batch job).
A retry's seed (engines/design.py SEED_STEP) adds a few thousand: still far inside torch's range."""

from __future__ import annotations

import random

MAX_SEED = 2**32 - 1
_DRAWN_BELOW = 2**31  # a drawn seed also fits a signed 32-bit int, for any consumer that wants one


def random_seed() -> int:
    return random.randrange(_DRAWN_BELOW)
