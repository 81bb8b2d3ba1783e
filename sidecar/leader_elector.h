// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics: a lease is
// free when its holder is empty or when its record has not changed for leaseDurationSeconds
// *as observed by our own clock* (no trust in other pods' clocks); updates carry the read
// resourceVersion, so of two candidates racing for a free lease one gets 409 and loses.
// A leader that cannot renew within the renew deadline (shorter than the lease duration)
// steps down before anyone else may take over, so two leaders never actuate at once.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "sidecar/k8s_client.h"
#include "base/log.h"
#include "sidecar/scale_policy.h"

namespace turbine::autoscaler {

struct LeaseTimings {
  Seconds duration{15};
  Seconds renew_deadline{10};
  Seconds retry_period{2};
};

class LeaderElector {
 public:
  using ErrorFn = std::function<void(const std::string& op)>;
  using ChangeFn = std::function<void(bool leader)>;

  LeaderElector(K8sClient& client, std::string namespace_name, std::string lease_name,
                std::string identity, LeaseTimings timings, Logger& log,
                ErrorFn on_api_error = nullptr, ChangeFn on_change = nullptr);
  ~LeaderElector();

  void start();
  // Stops the loop; with `release`, a held lease is handed back (holder emptied) so a
  // successor takes over at once instead of after the lease duration.
  void stop(bool release);

  // True while this instance holds the lease *and* renewed it within the renew deadline:
  // checked against the clock, not only the loop's last verdict, so a renew call that hangs
  // on a dead API server cannot extend a leadership nobody else can see any more.
  bool is_leader() const;

  // One acquire-or-renew round; true when this instance holds the lease afterwards.
  bool try_acquire_or_renew();

 private:
  void loop();
  void set_leader(bool leader, const std::string& why);
  std::string lease_path() const;

  K8sClient& client_;
  std::string ns_, name_, identity_;
  LeaseTimings t_;
  Logger& log_;
  ErrorFn on_api_error_;
  ChangeFn on_change_;

  std::atomic<bool> leader_{false};
  std::atomic<Clock::rep> last_renew_{0};  // steady-clock ticks of the last successful renew
  std::atomic<bool> stop_{false};
  std::thread thread_;
  // What we last saw of the lease, and when (steady clock) it last changed.
  std::string observed_record_;
  Clock::time_point observed_at_{};
  bool held_by_other_ = false;  // set by try_acquire_or_renew() when someone else holds it
};

}  // namespace turbine::autoscaler
