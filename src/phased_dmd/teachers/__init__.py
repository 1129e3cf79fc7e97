"""Teachers: flow-matching models of the paper's diffusers architectures, at paper or embedded scale,
saved and loaded in one layout (`save_pretrained` folders plus teacher.json)."""
