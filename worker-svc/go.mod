module github.com/gift-platform/ecs-sre-gift-worker/worker-svc

go 1.26
