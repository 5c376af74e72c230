"""Turning ``--mmgate`` on: read the run spec, load the gate fixtures, point collection at the
gates and, in the controlling process only, check the setup once (``preflight``) and register the
session that decides and writes."""

from __future__ import annotations

import dataclasses
import sys

import pytest
from threadpoolctl import threadpool_limits

from mmgate.plugin import options
from mmgate.plugin.context import RunContext
from mmgate.plugin.preflight import SetupCheck, check_setup
from mmgate.plugin.progress import progress_for, setup_check_progress
from mmgate.plugin.runspec import read_runspec
from mmgate.plugin.session import GateSession
from mmgate.plugin.stash import CONTEXT_KEY
from mmgate.records.resources import gates_dir


def activate(config: pytest.Config) -> None:
    """Configure this process for a gated run."""
    if str(config.rootpath) not in sys.path:
        sys.path.insert(0, str(config.rootpath))  # so --mmgate-subject finds the project's modules
    spec = read_runspec(options.cli_values(config), config.rootpath)
    controller = not hasattr(config, "workerinput")
    config.stash[CONTEXT_KEY] = RunContext(spec, progress_for(config, controller))
    config.pluginmanager.import_plugin("mmgate.plugin.fixtures")
    _load_hypothesis_profile(config)
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(gates_dir())]
    if getattr(config.option, "dist", "no") == "load" and config.option.maxworkerrestart is None:
        # Gates are scheduled by seed (see mmgate.plugin.scheduling); xdist's scope scheduler cannot hand
        # work to a replacement worker, so a crash ends the run and its gates are missing evidence.
        config.option.maxworkerrestart = "0"
    if not controller:
        threadpool_limits(limits=1, user_api="blas")  # the workers are the parallelism
    if controller:
        setup = SetupCheck() if config.option.help else check_setup(spec, setup_check_progress(config),
                                                                    _distributed(config))
        if setup.subject is not None and not _distributed(config):
            # serial: the gates use the subject and its canary embeddings, built and embedded once
            config.stash[CONTEXT_KEY].adopt_subject(setup.subject, setup.canary)
        if setup.failed:
            # No gate will run (see GateSession.pytest_collection_modifyitems): start no workers.
            config.option.dist, config.option.tx = "no", []
        # The session keeps the check's findings, not a canary's worth of embeddings it never reads.
        session = GateSession(config, spec, dataclasses.replace(setup, canary=None))
        config.pluginmanager.register(session, "mmgate-session")


def _distributed(config: pytest.Config) -> bool:
    """Whether pytest-xdist will run the gates in worker processes."""
    return getattr(config.option, "dist", "no") != "no" and bool(getattr(config.option, "tx", None))


def _load_hypothesis_profile(config: pytest.Config) -> None:
    """Make ``mmgate-ci`` (derandomized, no database, no deadline) the Hypothesis default of a
    gated run, unless the user chose a profile with ``--hypothesis-profile``."""
    from hypothesis import settings

    from mmgate.strategies import PROFILE_CI, register_profiles

    register_profiles()
    if not config.getoption("hypothesis_profile", None):
        settings.load_profile(PROFILE_CI)
