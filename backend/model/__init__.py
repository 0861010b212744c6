"""Research core: the patent image/text encoder, contrastive losses, training and evaluation.

Public entry point for other areas: :func:`backend.model.encoder.get_encoder`.
"""
