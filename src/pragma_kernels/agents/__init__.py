"""The agents: Coder and Conductor prompts, reply parsing, the optimisation loop."""
