"""Bounded interventions on the built-in lab (book §3.7): the policy (``policy``), its hashed bounds
(``config``), the actions (``actions``), limited fine-tuning with stop rules and byte-identical
rollback (``finetune``), the run over the drift timeline (``run``) and its strict reports (``report``)."""

from mmgate.lab.interventions.config import (
           ACTIONS,
           DEFAULT_INTERVENTION,
           PROHIBITED,
           InterventionConfig,
)
from mmgate.lab.interventions.policy import Action, Decision, Diagnosis, select_action

__all__ = ["ACTIONS", "DEFAULT_INTERVENTION", "PROHIBITED", "Action", "Decision", "Diagnosis", "InterventionConfig",
           "select_action"]
