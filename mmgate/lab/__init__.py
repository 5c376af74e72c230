"""The lab around the built-in subject: the reference aligner trained on the synthetic world and its
conditions (healthy and injected failures), the detection-matrix calibration, robustness curves and
margins, and the drift episode timeline and diagnosis that retrain it. It may import the audit
trail, ``gating`` and everything below; never the pytest integration."""
