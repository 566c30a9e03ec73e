"""Fine-tuning: a multi-task SFT data set from the user's texts, LoRA training, evaluation, export, registry.

``data`` (prepare, split, load) and ``registry`` import no torch; ``train``, ``evaluate`` and ``export`` import
torch, transformers and peft only when called.
"""
