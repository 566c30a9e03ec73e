"""Security probes for issue 12, one test module per failure class; ``probes/`` holds the attacks themselves
(plain functions returning ``Findings``), shared with ``bench/security_probes.py``."""
