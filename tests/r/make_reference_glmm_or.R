# Reference values for metareview's two-group GLMMs for odds ratios (metareview.glmm.glmm_or):
# metafor's rma.glmm(measure = "OR", model = ...) for the models metareview offers.
#
#   CM.AL  conditional model, approximate (binomial) likelihood, through lme4:
#          ai ~ Bin(ai + ci, expit(log(n1i/n2i) + theta_i));
#   UM.FS  unconditional model with fixed study effects, through lme4 (rma.glmm's and meta's default):
#          logit p_ij = alpha_i + group1_j * beta + group12_j * b_i, b_i ~ N(0, tau^2);
#   UM.RS  unconditional model with random study effects, through lme4 (glmer with two independent random
#          effects per study, which lme4 integrates by the Laplace approximation only: rma.glmm sets
#          nAGQ to 1 for the random-effects model, with a warning; its common-effect model keeps nAGQ = 7):
#          logit p_ij = mu0 + group1_j * beta + u_i + group12_j * b_i, u_i ~ N(0, sigma^2), b_i ~ N(0, tau^2);
#   CM.EL  conditional model, exact likelihood (non-central hypergeometric), metafor's own code:
#          the random effect integrated with integrate(), maximised with optim, Hessian by numDeriv.
#
# Run from the repository root:
#     Rscript tests/r/make_reference_glmm_or.R [MODEL ...]
# (all models without arguments; e.g. UM.RS to remake only or_umrs.json)
#
# Writes tests/fixtures/glmm/or_cmal.json, or_umfs.json, or_umrs.json and or_cmel.json.  lme4 fits are recorded
# with a tight bobyqa tolerance (control = list(glmerCtrl = ...)), the maximum of lme4's own
# approximation, as in make_reference_glmm.R; CM.EL with the tight controls below and the
# non-central hypergeometric density of metafor's own dnoncenhypergeom (exact, needs no BiasedUrn);
# the common-effect models of CM.AL and UM.FS are glm's and need no control.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(lme4)
  library(jsonlite)
})

OUT_DIR <- file.path("tests", "fixtures", "glmm")
dir.create(OUT_DIR, recursive = TRUE, showWarnings = FALSE)
TIGHT <- list(glmerCtrl = list(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5)))
TIGHT_TEXT <- 'list(glmerCtrl = list(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5)))'
# UM.FS has a coefficient per study: bobyqa with a small first step gets closest to the maximum
FS_TIGHT <- list(glmerCtrl = list(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.02, rhoend = 1e-12, maxfun = 1e6)))
FS_TIGHT_TEXT <- 'list(glmerCtrl = list(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.02, rhoend = 1e-12, maxfun = 1e6)))'
# CM.EL: metafor's own likelihood.  BFGS with a tight relative tolerance (nlminb stops early on some
# of these tables), the integrals to 1e-10, and numDeriv's Hessian from steps of 1% of each
# parameter (its default Richardson steps, down to 1e-4 * 2^-15 of a parameter near 0, lose the
# digits of a log odds ratio near 0 to rounding)
EXACT <- list(optimizer = "optim", optmethod = "BFGS", optCtrl = list(reltol = 1e-14, maxit = 1e4),
              dnchgcalc = "dnoncenhypergeom", intCtrl = list(rel.tol = 1e-10, subdivisions = 1000L),
              hessianCtrl = list(d = 0.01, r = 6))
EXACT_TEXT <- paste0('list(optimizer = "optim", optmethod = "BFGS", optCtrl = list(reltol = 1e-14, maxit = 1e4), ',
                     'dnchgcalc = "dnoncenhypergeom", intCtrl = list(rel.tol = 1e-10, subdivisions = 1000L), ',
                     'hessianCtrl = list(d = 0.01, r = 6))')
num <- function(x) as.numeric(x)

TABLES <- list(
  bcg = with(dat.bcg, list(ai = tpos, n1i = tpos + tneg, ci = cpos, n2i = cpos + cneg,
                           source = "metadat::dat.bcg")),
  nielweise2007 = with(dat.nielweise2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i,
                                               source = "metadat::dat.nielweise2007 (zero cells, one double-zero table)")),
  li2007 = with(dat.li2007, list(ai = ai, n1i = n1i, ci = ci, n2i = n2i,
                                 source = "metadat::dat.li2007 (rare events, zero cells)"))
)

record <- function(fit, call) {
  pr <- predict(fit)
  extra <- if (fit$model == "UM.RS") list(sigma2 = num(fit$sigma2)) else list()
  c(extra, list(call = call, beta = num(fit$beta), se = num(fit$se), ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
       zval = num(fit$zval), pval = num(fit$pval), tau2 = num(fit$tau2),
       QE_Wld = num(fit$QE.Wld), QEp_Wld = num(fit$QEp.Wld), QE_LRT = num(fit$QE.LRT),
       QEp_LRT = num(fit$QEp.LRT), QE_df = num(fit$QE.df), I2 = num(fit$I2), H2 = num(fit$H2),
       logLik = num(logLik(fit)), pi_lb = num(pr$pi.lb), pi_ub = num(pr$pi.ub), k = fit$k))
}

# lme4 takes the standard error of UM.FS from a Hessian by central differences with step 1e-4
# (lme4:::deriv12) of a deviance whose conditional modes are solved to tolPwrss = 1e-7, which
# leaves errors of a few 1e-5 in it.  se_devfun is the same quantity from lme4's own deviance
# function at rma.glmm's solution, differentiated by numDeriv with Richardson extrapolation from
# steps of 0.01 (where that noise no longer matters).
se_devfun <- function(d, fit) {
  rd <- rma.glmm(measure = "OR", ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, model = "UM.FS", retdat = TRUE)
  dat.grp <- rd$dat.grp; X.fit <- rd$X.fit; study <- rd$study; group <- rd$group
  dev <- glmer(dat.grp ~ -1 + X.fit + study + (group - 1 | study), family = binomial, nAGQ = 7, devFunOnly = TRUE)
  refit <- rma.glmm(measure = "OR", ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, model = "UM.FS",
                    control = FS_TIGHT, retfit = TRUE)$res.ML
  h <- numDeriv::hessian(dev, c(getME(refit, "theta"), fixef(refit)), method.args = list(d = 0.01, r = 4))
  sqrt(2 * solve(h)[2, 2])
}

# UM.RS: lme4 solves the conditional modes of its Laplace deviance to tolPwrss = 1e-7, which moves
# rma.glmm's random-effects estimates by up to 4e-4 and its standard error by up to 1% from the maximum of
# the Laplace approximation itself (lme4's own deviance function agrees with the exact Laplace
# approximation to 1e-11 once its modes are solved to tolPwrss = 1e-11).  rs_tight records that maximum:
# lme4's deviance function (random effects (1 | study) + (group - 1 | study), as rma.glmm's
# (group || study)) with tolPwrss = 1e-11, maximised by nlminb from rma.glmm's solution, the standard
# error from numDeriv's Hessian of it (steps of 0.001: from 0.01 its Richardson extrapolation is 0.1% off on
# dat.bcg), and likewise the common-effect (nAGQ = 1 and 7)
# and saturated fits behind the heterogeneity tests and the common-effect estimate.
tight_fit <- function(formula, nAGQ, start) {
  dev <- glmer(formula, family = binomial, nAGQ = nAGQ, devFunOnly = TRUE, control = glmerControl(tolPwrss = 1e-11))
  nth <- length(start$theta)
  opt <- nlminb(c(start$theta, start$beta), dev, lower = c(rep(0, nth), rep(-Inf, length(start$beta))),
                control = list(rel.tol = 1e-15, x.tol = 1e-12, eval.max = 1e4, iter.max = 1e4))
  h <- numDeriv::hessian(dev, opt$par, method.args = list(d = 0.001, r = 4))
  list(par = opt$par, loglik = -opt$objective / 2, vcov = 2 * solve(h), nth = nth)
}
rs_tight <- function(d, ce, ml) {
  rd <- rma.glmm(measure = "OR", ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, model = "UM.RS", retdat = TRUE)
  dat.grp <- rd$dat.grp; X.fit <- rd$X.fit; study <- rd$study; group <- rd$group; const <- rep(1, nrow(dat.grp))
  env <- environment()
  f_ml <- dat.grp ~ -1 + X.fit + const + (1 | study) + (group - 1 | study)
  f_fe <- dat.grp ~ -1 + X.fit + const + (1 | study)
  environment(f_ml) <- environment(f_fe) <- env
  mlf <- tight_fit(f_ml, 1, list(theta = sqrt(c(ml$sigma2, ml$tau2)), beta = c(ml$beta, 0)))
  fe1 <- tight_fit(f_fe, 1, list(theta = sqrt(ml$sigma2), beta = c(ce$beta, 0)))
  fe7 <- tight_fit(f_fe, 7, list(theta = sqrt(ce$sigma2), beta = c(ce$beta, 0)))
  group1 <- rep(c(1, 0), times = nrow(dat.grp) / 2)
  X.QE <- model.matrix(~ -1 + X.fit + const + study:group1)
  b.QE <- coef(glm(dat.grp ~ -1 + X.QE, family = binomial))
  X.QE <- X.QE[, !is.na(b.QE), drop = FALSE]
  f_qe <- dat.grp ~ -1 + X.QE + (1 | study)
  environment(f_qe) <- env
  qe1 <- tight_fit(f_qe, 1, list(theta = sqrt(fe1$par[1]^2), beta = b.QE[!is.na(b.QE)]))
  b2 <- qe1$par[-(1:3)]
  v2 <- qe1$vcov[-(1:3), -(1:3)]
  list(ML = list(beta = mlf$par[3], se = sqrt(mlf$vcov[3, 3]), sigma2 = mlf$par[1]^2, tau2 = mlf$par[2]^2,
                 logLik = mlf$loglik, QE_LRT = -2 * (fe1$loglik - qe1$loglik),
                 QE_Wld = c(t(b2) %*% solve(v2, b2))),
       CE = list(beta = fe7$par[2], se = sqrt(fe7$vcov[2, 2]), sigma2 = fe7$par[1]^2, logLik = fe7$loglik))
}

MODELS <- list(
  CM.AL = list(file = "or_cmal.json", ce = list(), ml = TIGHT, ml_text = TIGHT_TEXT),
  UM.FS = list(file = "or_umfs.json", ce = list(), ml = FS_TIGHT, ml_text = FS_TIGHT_TEXT),
  UM.RS = list(file = "or_umrs.json", ce = TIGHT, ce_text = TIGHT_TEXT, ml = TIGHT, ml_text = TIGHT_TEXT),
  # dat.li2007 is left out of CM.EL: its largest trial (ISIS-4, 4319 events) takes R hours
  CM.EL = list(file = "or_cmel.json", ce = EXACT, ce_text = EXACT_TEXT, ml = EXACT, ml_text = EXACT_TEXT,
               tables = c("bcg", "nielweise2007"))
)

META <- list(r_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
             metadat_version = as.character(packageVersion("metadat")),
             lme4_version = as.character(packageVersion("lme4")),
             jsonlite_version = as.character(packageVersion("jsonlite")))

ASKED <- commandArgs(trailingOnly = TRUE)
for (model in if (length(ASKED)) ASKED else names(MODELS)) {
  m <- MODELS[[model]]
  out <- list()
  for (name in if (is.null(m$tables)) names(TABLES) else m$tables) {
    d <- TABLES[[name]]
    args <- list(measure = "OR", model = model, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i)
    ce_args <- c(args, list(method = "FE"))
    if (length(m$ce)) ce_args$control <- m$ce
    ce <- suppressWarnings(do.call(rma.glmm, ce_args))
    ml <- suppressWarnings(do.call(rma.glmm, c(args, list(method = "ML", control = m$ml))))
    ce_call <- sprintf('rma.glmm(measure = "OR", ai, n1i, ci, n2i, model = "%s", method = "FE"%s)', model,
                       if (length(m$ce)) paste0(", control = ", m$ce_text) else "")
    ml_call <- sprintf('rma.glmm(measure = "OR", ai, n1i, ci, n2i, model = "%s", control = %s)', model, m$ml_text)
    out[[name]] <- list(source = d$source, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i,
                        CE = record(ce, ce_call), ML = record(ml, ml_call))
    if (model == "UM.FS") out[[name]]$ML$se_devfun <- se_devfun(d, ml)
    if (model == "UM.RS") out[[name]]$laplace_tight <- rs_tight(d, out[[name]]$CE, out[[name]]$ML)
  }
  meta <- c(META, list(model = model, ml_control = m$ml_text))
  write_json(list(meta = meta, datasets = out), file.path(OUT_DIR, m$file), digits = NA,
             auto_unbox = TRUE, pretty = TRUE, na = "null")
  cat("wrote", file.path(OUT_DIR, m$file), "\n")
}
