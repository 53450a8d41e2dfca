"""The warm worker: jobs of the kernel in a clean child forked from a pre-imported interpreter.

Importing an SDK takes most of a second; the self-check, the serialization and a local run each
used to pay it in a fresh interpreter. The worker pays it once per kernel (and per environment):
each job runs in a child forked from it, which has only the environment's packages and the
job's environment, as a fresh ``python -I`` would. :data:`POOL` is the kernel's worker; callers
get None from it when it cannot take a job, and then run the job cold.

Contract: no IPython, ipywidgets or tornado; nothing starts at import.
"""

from flyte_jupyter.worker.client import POOL, JobResult, WarmPool

__all__ = ["POOL", "JobResult", "WarmPool"]
