import pytest
import torch

from phased_dmd.method.guidance import guide


def test_standard_form_interpolates_and_extrapolates(gen):
    v_u, v_c = torch.randn(2, 5, 3, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(guide("standard", v_u, v_c, 0.0), v_u)
    torch.testing.assert_close(guide("standard", v_u, v_c, 1.0), v_c)
    torch.testing.assert_close(guide("standard", v_u, v_c, 4.0), v_c + 3.0 * (v_c - v_u))


def test_plus_one_form_is_the_standard_form_at_scale_plus_one(gen):
    v_u, v_c = torch.randn(2, 5, 3, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(guide("plus_one", v_u, v_c, 3.0), guide("standard", v_u, v_c, 4.0))


def test_unknown_form_is_refused():
    with pytest.raises(ValueError, match="unknown CFG form 'apg'"):
        guide("apg", torch.zeros(1), torch.zeros(1), 1.0)


def test_renorm_is_qwen_images_true_cfg_on_packed_tokens():
    """Each 2 x 2 x C token of the guided velocity has the norm of the conditional one, direction of the standard
    form: QwenImagePipeline's comb_pred * (|noise_pred| / |comb_pred|) over packed tokens."""
    from phased_dmd.teachers.architectures import pack_patches

    gen = torch.Generator().manual_seed(0)
    v_u, v_c = torch.randn(2, 3, 16, 4, 6, generator=gen)
    ours = pack_patches(guide("renorm", v_u, v_c, 4.0, patch=2), 2)
    comb = pack_patches(v_u + 4.0 * (v_c - v_u), 2)
    theirs = comb * (torch.norm(pack_patches(v_c, 2), dim=-1, keepdim=True) / torch.norm(comb, dim=-1, keepdim=True))
    torch.testing.assert_close(ours, theirs)
    per_pixel = guide("renorm", v_u, v_c, 4.0)  # patch 1: each pixel's channels
    torch.testing.assert_close(per_pixel.norm(dim=1), v_c.norm(dim=1))
