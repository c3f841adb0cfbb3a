"""Knowledge distillation: losses (response/feature/relation), schemes and the trainer."""
