"""The diffusers classes the project builds on, imported once torchvision can import (see torchvision_import)."""

from phased_dmd.torchvision_import import allow_torchvision_import

allow_torchvision_import()

from diffusers import (  # noqa: E402
    AutoencoderKLWan,
    AutoModel,
    ConfigMixin,
    DiffusionPipeline,
    FlowMatchEulerDiscreteScheduler,
    ModelMixin,
    QwenImagePipeline,
    QwenImageTransformer2DModel,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
)
from diffusers.configuration_utils import register_to_config  # noqa: E402

__all__ = ["AutoencoderKLWan", "AutoModel", "ConfigMixin", "DiffusionPipeline", "FlowMatchEulerDiscreteScheduler",
           "ModelMixin", "QwenImagePipeline", "QwenImageTransformer2DModel", "WanImageToVideoPipeline", "WanPipeline",
           "WanTransformer3DModel", "register_to_config"]
