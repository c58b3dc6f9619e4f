"""The one tiny random-weight ClapConfig the tests build (fast, real transformers classes)."""


def tiny_config(vocab_size: int = 100, fusion: bool = False, max_positions: int = 80):
    """A ClapConfig of a few thousand parameters: 1-layer 32-wide text tower, 8-wide HTSAT, 16-d projection."""
    from transformers import ClapConfig

    return ClapConfig(
        text_config=dict(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=max_positions, projection_dim=16),
        audio_config=dict(patch_embeds_hidden_size=8, depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 2, 2],
                          hidden_size=64, projection_dim=16, enable_fusion=fusion),
        projection_dim=16,
    )
