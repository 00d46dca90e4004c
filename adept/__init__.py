"""ADePT Lab: PT, DePT and ADePT prompt tuning on frozen backbones, compared at an equal budget.

The names below load lazily, so ``import adept.tracking`` (the dashboard) does not pay for torch.
"""

import importlib

_LAZY = {
    "budget": ("adept.budget", None),
    "Backbone": ("adept.backbones", "Backbone"),
    "list_backbones": ("adept.backbones", "list_backbones"),
    "load_backbone": ("adept.backbones", "load_backbone"),
    "PromptTunedModel": ("adept.methods", "PromptTunedModel"),
    "build_method": ("adept.methods", "build_method"),
    "load_adapter": ("adept.methods", "load_adapter"),
}
__all__ = sorted(_LAZY)
__version__ = "0.1.0"


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'adept' has no attribute {name!r}")
    module, attr = _LAZY[name]
    mod = importlib.import_module(module)
    return mod if attr is None else getattr(mod, attr)
