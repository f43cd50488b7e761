# One image for web, worker and beat. The GPU worker uses Dockerfile.gpu (CUDA torch).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
# requirements.txt is the runtime lock; its torch pin is the CPU build from PyTorch's index.
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt
COPY . .
RUN DJANGO_SECRET_KEY=build python manage.py collectstatic --noinput
CMD ["gunicorn", "ratings_site.wsgi", "-c", "gunicorn.conf.py"]
