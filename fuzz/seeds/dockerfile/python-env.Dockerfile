FROM python:3.12
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install poetry==1.8.3
RUN python -m pip install --upgrade pip==24.0
RUN --mount=type=cache,target=/root/.cache/pip pip install uvicorn==0.30.0
