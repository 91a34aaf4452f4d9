"""The Streamlit side of ServiceWatch: theme, charts (pure functions) and shared widgets."""
