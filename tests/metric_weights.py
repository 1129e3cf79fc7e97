"""Random-weight instances of the paper's metric networks in the weights folder's layout (the hub cannot be
reached here, so the libraries' own loading code reads these local copies)."""

import pytest
import torch

from phased_dmd.metrics import pretrained as P
from phased_dmd.torchvision_import import allow_torchvision_import


def random_weights(folder) -> dict[str, dict[str, torch.Tensor]]:
    """Random-weight instances of the five networks saved where `weight_files` expects them; their state dicts."""
    allow_torchvision_import()
    import pytorch_fid.inception
    import torchvision
    import transformers
    from cdfvd.third_party.i3d.pytorch_i3d import InceptionI3d

    torch.manual_seed(0)
    config = transformers.DINOv3ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                          intermediate_size=64, patch_size=4, image_size=16, num_register_tokens=0)
    transformers.DINOv3ViTModel(config).save_pretrained(folder / "dinov3")
    with pytest.MonkeyPatch.context() as m:  # FID's Inception, built by pytorch-fid with the download left out
        m.setattr(pytorch_fid.inception, "load_state_dict_from_url", lambda *args, **kwargs: {})
        m.setattr(torch.nn.Module, "load_state_dict", lambda *args, **kwargs: None)
        inception = pytorch_fid.inception.fid_inception_v3()
    states = {"alexnet": torchvision.models.alexnet().state_dict(), "inception": inception.state_dict(),
              "raft": torchvision.models.optical_flow.raft_large().state_dict(),
              "i3d": InceptionI3d(400, in_channels=3).state_dict()}
    for name, state in states.items():
        path = P.weight_files(folder)[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, path)
    return states
