# fhircare server image. Talks to the MongoDB named by MONGODB_URI (see docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 FHIRCARE_HOST=0.0.0.0 FHIRCARE_PORT=8080
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir .
COPY examples ./examples
COPY profiles ./profiles
EXPOSE 8080
USER nobody
CMD ["fhircare", "serve", "--examples"]
