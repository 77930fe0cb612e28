"""One module per result of "Prompting a Pretrained Transformer Can Be a Universal Approximator"."""
