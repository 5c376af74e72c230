"""Project-wide test configuration: a derandomized Hypothesis profile, so the suite (and CI) is
reproducible run to run; ``HYPOTHESIS_PROFILE=dev`` explores fresh examples instead."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
