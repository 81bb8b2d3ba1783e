// The Kubernetes objects, parsed from literal API JSON: Deployments (and when a rollout is
// in progress), EndpointSlices (which endpoints are ready), Pods (which are pending).
#include <gtest/gtest.h>

#include "sidecar/kube_objects.h"

namespace turbine::autoscaler {
namespace {

TEST(Deployment, ParsesSpecStatusAndSelector) {
  auto d = parse_deployment(R"({
    "metadata": {"name": "turbine", "uid": "u-1", "generation": 7},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "turbine", "tier": "llm"}}},
    "status": {"observedGeneration": 7, "replicas": 3, "updatedReplicas": 3,
               "readyReplicas": 2, "availableReplicas": 2, "unavailableReplicas": 1}})");
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d->uid, "u-1");
  EXPECT_EQ(d->spec_replicas, 3);
  EXPECT_EQ(d->ready_replicas, 2);
  EXPECT_EQ(label_selector(d->match_labels), "app=turbine,tier=llm");
  EXPECT_EQ(rollout_reason(*d), "");  // a pod not ready yet is not a rollout
  EXPECT_FALSE(parse_deployment("{not json").ok());
}

TEST(Deployment, RolloutReasons) {
  DeploymentInfo d;
  d.generation = 5;
  d.observed_generation = 5;
  d.spec_replicas = 4;
  d.status_replicas = 4;
  d.updated_replicas = 4;
  EXPECT_EQ(rollout_reason(d), "");
  d.observed_generation = 4;
  EXPECT_NE(rollout_reason(d).find("not yet observed generation 5"), std::string::npos);
  d.observed_generation = 5;
  d.updated_replicas = 2;
  d.status_replicas = 5;
  EXPECT_NE(rollout_reason(d).find("2 of 4 pods updated"), std::string::npos);
  d.updated_replicas = 4;
  d.unavailable_replicas = 1;
  EXPECT_NE(rollout_reason(d).find("1 old pods still running (1 unavailable)"), std::string::npos);
}

TEST(EndpointSlices, ReadyDeduplicatedWithPodNames) {
  auto eps = parse_endpoint_slices(R"({"items": [
    {"endpoints": [
      {"addresses": ["10.0.0.1"], "conditions": {"ready": true},
       "targetRef": {"kind": "Pod", "name": "turbine-a"}},
      {"addresses": ["10.0.0.2"], "conditions": {"ready": false, "terminating": true},
       "targetRef": {"kind": "Pod", "name": "turbine-b"}},
      {"addresses": ["10.0.0.3"]}
    ]},
    {"endpoints": [
      {"addresses": ["10.0.0.1"], "conditions": {"ready": true},
       "targetRef": {"kind": "Pod", "name": "turbine-a"}}
    ]},
    {"endpoints": null},
    {}
  ]})");
  ASSERT_TRUE(eps.ok()) << eps.error();
  ASSERT_EQ(eps->size(), 2u);
  EXPECT_EQ((*eps)[0].ip, "10.0.0.1");
  EXPECT_EQ((*eps)[0].pod, "turbine-a");
  EXPECT_EQ((*eps)[1].ip, "10.0.0.3");
  EXPECT_EQ((*eps)[1].pod, "10.0.0.3");  // no targetRef: named by address
  auto empty = parse_endpoint_slices(R"({"items": []})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_FALSE(parse_endpoint_slices("[").ok());
}

// Which pods hold the autoscaler as "starting": pending ones and unready ones inside the
// startup budget; never deleted pods, and not a pod that has been unready for longer (a
// crash loop is not capacity on its way).
TEST(Pods, StartingCountsPendingAndYoungUnreadyPods) {
  // now = 2026-11-30T06:00:00Z, budget 600 s.
  const int64_t now = 1796018400;
  auto c = count_pods(R"({"items": [
    {"status": {"phase": "Pending"}},
    {"metadata": {"creationTimestamp": "2026-11-30T05:00:00Z"},
     "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
    {"metadata": {"creationTimestamp": "2026-11-30T05:58:00Z"},
     "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}},
    {"metadata": {"creationTimestamp": "2026-11-30T05:00:00Z"},
     "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}},
    {"metadata": {"creationTimestamp": "2026-11-30T05:59:00Z", "deletionTimestamp": "2026-11-30T06:00:00Z"},
     "status": {"phase": "Pending"}},
    {"metadata": {"creationTimestamp": "2026-11-30T05:00:00Z"}, "status": {"phase": "Failed"}},
    {"status": {"phase": "Running"}}
  ]})", now, 600);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->total, 6);    // the deleted pod is left out
  EXPECT_EQ(c->pending, 1);
  // pending + unready for 2 min + unready without a timestamp; not the one unready for an hour
  EXPECT_EQ(c->starting, 3);
  EXPECT_FALSE(count_pods("nope", now, 600).ok());
  auto empty = count_pods(R"({"items": []})", now, 600);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->total, 0);
}

}  // namespace
}  // namespace turbine::autoscaler
