"""The framework's floor for bench/browser.py: a bare Streamlit page with ``?charts=N`` tiny plotly
bar charts and nothing else (no database, no filter bar). What a ServiceWatch page costs above it
is ours."""

import plotly.graph_objects as go
import streamlit as st

st.title("floor")
for i in range(int(st.query_params.get("charts", "0"))):
    st.plotly_chart(go.Figure(go.Bar(x=["a", "b", "c"], y=[3, 1, i])), key=f"chart{i}")
