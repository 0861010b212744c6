"""The runtime patent image/text encoder: what a server loads (encoder, registry, drawing preparation, the
classical channels of the stored drawing vector). The training code is :mod:`backend.training`.

Public entry point for other areas: :func:`backend.model.encoder.get_encoder`.
"""
