"""ADePT Lab: PT, DePT and ADePT prompt tuning on frozen backbones, compared at an equal budget."""

from adept import budget
from adept.backbones import Backbone, list_backbones, load_backbone
from adept.methods import PromptTunedModel, build_method, load_adapter

__all__ = ["Backbone", "PromptTunedModel", "budget", "build_method", "list_backbones", "load_adapter",
           "load_backbone"]
__version__ = "0.1.0"
