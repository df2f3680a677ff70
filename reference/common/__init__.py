"""Parts shared by the reference generators."""
