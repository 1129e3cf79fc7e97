"""What a paper-scale run costs, from the real diffusers models built without weights: parameters, FLOPs and
memory of a call (measure), of a distillation iteration (iteration), per GPU (memory) and in GPU-hours."""
