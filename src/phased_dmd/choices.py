"""Names of the method's options, in one torch-free place (the workflow validates against them)."""

from phased_dmd.kinds import KINDS

CRITIC_OBJECTIVES: tuple[str, ...] = ("subinterval", "naive")  # paper Eq. 13 | Fig. 2c
STEP_RULES: tuple[str, ...] = ("euler", "renoise")  # LightX2V | DMD2, Self-Forcing
PARALLEL_MODES: tuple[str, ...] = ("replicate", "shard")  # PHASED_DMD_PARALLEL: models whole or FSDP2-sharded
CFG_FORMS: tuple[str, ...] = ("standard", "plus_one", "renorm")  # v_u + w (v_c - v_u) | v_c + w (v_c - v_u) |
# standard rescaled to |v_c| per token (QwenImagePipeline's true CFG)
METHODS: tuple[str, ...] = ("dmd", "sgts", "phased")  # 1 step | N steps with SGTS | N steps in P phases
TEACHER_KINDS: tuple[str, ...] = tuple(KINDS)  # embedded teachers: teachers/kinds.py
INTERVALS: tuple[str, ...] = ("nested", "disjoint")  # re-noise t in (s_p, 1) | (s_p, s_{p-1})
SCHEDULES: tuple[str, ...] = ("progressive", "joint")  # paper: phase by phase | LightX2V: phases alternate
METRIC_BACKENDS: tuple[str, ...] = ("embedded", "paper")  # feature network + OpenCV | DINOv3, LPIPS, RAFT, FID, FVD
ROLE_TRAINING: tuple[str, ...] = ("full", "lora")  # a role's own weights | a peft adapter over the teacher
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")  # run setting: float32 throughout | bf16 compute, fp32 masters
SCALES: tuple[str, ...] = ("embedded", "paper")  # tiny teachers trained here | the paper's from the hub
